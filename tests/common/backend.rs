//! A REST hook backend for tests: a real HTTP server (tiny_http) on 127.0.0.1 that records
//! every call and answers by rules the test sets: `connect` needs `custom.token` to be the
//! configured token, `publishStream`/`playStream` of a name in its deny list get 403, and a
//! delay may be added to every answer (a slow backend).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// One recorded call: the method (last path segment), the whole path, the JSON body.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// What the backend answers.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// The `custom.token` a `connect` must carry (`None`: any).
    pub token: Option<String>,
    /// Stream names whose publish is refused with 403.
    pub deny_publish: Vec<String>,
    /// Stream names whose play is refused with 403.
    pub deny_play: Vec<String>,
    /// Extra JSON merged into a 200 answer to `connect` (e.g. `restClientConfig`).
    pub connect_answer: Value,
    /// Added before every answer.
    pub delay: Duration,
}

/// The running backend; stops when dropped.
pub struct Backend {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    calls: Arc<Mutex<Vec<Call>>>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    pub fn start(rules: Rules) -> Backend {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("backend binds"));
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (srv, log) = (server.clone(), calls.clone());
        let thread = std::thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let path = request.url().to_owned();
                let method = path.rsplit('/').next().unwrap_or("").to_owned();
                log.lock().unwrap().push(Call {
                    method: method.clone(),
                    path,
                    body: body.clone(),
                });
                let rules = rules.clone();
                // Answer on a thread of its own: a slow answer must not hold up the others.
                std::thread::spawn(move || {
                    std::thread::sleep(rules.delay);
                    let (status, answer) = decide(&rules, &method, &body);
                    let response = tiny_http::Response::from_string(answer.to_string())
                        .with_status_code(status)
                        .with_header(
                            "Content-Type: application/json"
                                .parse::<tiny_http::Header>()
                                .unwrap(),
                        );
                    let _ = request.respond(response);
                });
            }
        });
        Backend {
            addr,
            server,
            calls,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>/apps/<app>`: what `rest_hook_url` is set to.
    pub fn url(&self, app: &str) -> String {
        format!("http://{}/apps/{app}", self.addr)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls of `method` so far.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits up to `timeout` for a call of `method` that `pred` accepts.
    pub fn wait_for(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(c) = self.calls_of(method).into_iter().find(|c| pred(&c.body)) {
                return c.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no matching {method} call; calls: {:?}",
                self.calls()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decide(rules: &Rules, method: &str, body: &Value) -> (u16, Value) {
    match method {
        "connect" => {
            let token = body["custom"]["token"].as_str();
            if rules.token.as_deref().is_some_and(|t| Some(t) != token) {
                return (403, json!({"status": 403, "reason": "Wrong credentials"}));
            }
            let mut answer = body.clone();
            if let (Value::Object(a), Value::Object(extra)) = (&mut answer, &rules.connect_answer) {
                a.extend(extra.clone());
            }
            (200, answer)
        }
        "publishStream" | "playStream" => {
            let name = body["name"].as_str().unwrap_or("");
            let deny = if method == "publishStream" {
                &rules.deny_publish
            } else {
                &rules.deny_play
            };
            if deny.iter().any(|d| d == name) {
                (403, json!({"error": "not yours"}))
            } else {
                (200, body.clone())
            }
        }
        _ => (200, json!({})),
    }
}
