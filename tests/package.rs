//! The Debian package (`scripts/package.sh`, cargo-deb) holds what an operator installs: the
//! binary, `/etc/rtcdn/flashphoner.properties` as a 0640 conffile, the systemd unit and
//! maintainer scripts that create the `rtcdn` user and give it the configuration before the
//! unit is enabled and started. The packaged binary must start with the packaged
//! configuration and answer `/health`.
//!
//! The package under test is `$RTCDN_DEB`; `scripts/test.sh` builds it from the debug binary
//! (`scripts/package.sh --debug`) and sets it. Without it the test says so and checks nothing,
//! except under CI (`CI` set), where a missing package is a failure. Needs `dpkg-deb` and
//! `systemd-analyze` (Debian's dpkg and systemd packages).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Every file the package installs, with its mode (all owned by root in the archive; the
/// postinst gives the configuration to the rtcdn group).
const FILES: &[(&str, &str)] = &[
    ("./etc/rtcdn/flashphoner.properties", "-rw-r-----"),
    ("./usr/bin/rtcdn", "-rwxr-xr-x"),
    ("./usr/lib/systemd/system/rtcdn.service", "-rw-r--r--"),
    ("./usr/share/doc/rtcdn/README.md", "-rw-r--r--"),
    ("./usr/share/doc/rtcdn/copyright", "-rw-r--r--"),
    ("./usr/share/doc/rtcdn/tuning.md", "-rw-r--r--"),
];

const CONFIG: &str = "etc/rtcdn/flashphoner.properties";
const UNIT: &str = "usr/lib/systemd/system/rtcdn.service";

/// Runs `program args` and returns its stdout; panics with its stderr if it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value after `key=` on the first line that sets it (unit and properties files alike).
fn setting<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{key}= is not set in\n{text}"))
}

/// A scratch directory removed on drop, and the packaged node killed on drop.
struct Scratch {
    dir: PathBuf,
    node: Option<Child>,
}

impl Scratch {
    fn stop_node(&mut self) {
        if let Some(mut node) = self.node.take() {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.stop_node();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_package_installs_binary_config_and_unit_and_its_config_runs() {
    let Some(deb) = std::env::var_os("RTCDN_DEB") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set RTCDN_DEB (scripts/test.sh builds it with scripts/package.sh --debug)"
        );
        eprintln!("RTCDN_DEB is not set: no package to check (scripts/package.sh builds one)");
        return;
    };
    let deb = deb.to_str().expect("UTF-8 RTCDN_DEB").to_owned();
    let mut scratch = Scratch {
        dir: std::env::temp_dir().join(format!("rtcdn-package-{}", common::unique_id())),
        node: None,
    };
    std::fs::create_dir_all(&scratch.dir).expect("scratch directory");
    check_fields(&deb);
    check_contents(&deb);
    check_maintainer_scripts(&deb, &scratch.dir.join("control"));
    let root = scratch.dir.join("root");
    run("dpkg-deb", &["--extract", &deb, path_str(&root)]);
    check_unit_and_config(&root);
    serves_health_with_the_packaged_config(&root, &mut scratch);
}

fn check_fields(deb: &str) {
    let fields = run("dpkg-deb", &["--field", deb]);
    let field = |name: &str| {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no {name} in\n{fields}"))
            .to_owned()
    };
    assert_eq!(field("Package"), "rtcdn");
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    assert_eq!(field("Section"), "net");
    let depends = field("Depends");
    for needed in ["adduser", "procps", "libc6"] {
        assert!(depends.contains(needed), "Depends: {depends}");
    }
}

/// Exactly [`FILES`], with their modes, owned by root.
fn check_contents(deb: &str) {
    let listing = run("dpkg-deb", &["--contents", deb]);
    let mut files = Vec::new();
    for line in listing.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 6, "unexpected listing line: {line}");
        assert!(matches!(cols[1], "0/0" | "root/root"), "{line}");
        if !cols[0].starts_with('d') {
            files.push((cols[5], cols[0]));
        }
    }
    files.sort_unstable();
    assert_eq!(files, FILES, "package contents:\n{listing}");
}

/// The configuration is the one conffile; the postinst creates the user and gives it the
/// configuration before the unit is enabled and started; purge removes the state directory.
fn check_maintainer_scripts(deb: &str, control: &Path) {
    run("dpkg-deb", &["--control", deb, path_str(control)]);
    assert_eq!(
        read(&control.join("conffiles")).trim(),
        "/etc/rtcdn/flashphoner.properties"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.join(script);
        let text = read(&path);
        assert!(text.starts_with("#!/bin/sh\n"), "{script}:\n{text}");
        assert!(!text.contains("#DEBHELPER#"), "{script}:\n{text}");
        run("sh", &["-n", path_str(&path)]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{script}");
    }
    let postinst = read(&control.join("postinst"));
    let at = |needle: &str| {
        postinst
            .find(needle)
            .unwrap_or_else(|| panic!("postinst has no {needle:?}:\n{postinst}"))
    };
    let steps = [
        at("adduser --system --group"),
        at("chgrp rtcdn /etc/rtcdn/flashphoner.properties"),
        at("deb-systemd-helper enable rtcdn.service"),
        at("deb-systemd-invoke $_dh_action rtcdn.service"),
    ];
    assert!(
        steps.is_sorted(),
        "postinst steps out of order:\n{postinst}"
    );
    let prerm = read(&control.join("prerm"));
    assert!(
        prerm.contains("deb-systemd-invoke stop rtcdn.service"),
        "{prerm}"
    );
    let postrm = read(&control.join("postrm"));
    assert!(
        postrm.contains("deb-systemd-helper purge rtcdn.service"),
        "{postrm}"
    );
    assert!(postrm.contains("rm -rf /var/lib/rtcdn"), "{postrm}");
}

/// The unit runs the packaged binary on the packaged configuration as rtcdn, may write where
/// that configuration generates the certificate, and passes `systemd-analyze verify`.
fn check_unit_and_config(root: &Path) {
    let unit_path = root.join(UNIT);
    let unit = read(&unit_path);
    let value = |key: &str| setting(&unit, key);
    assert_eq!(value("Type"), "simple");
    assert_eq!(value("ExecStart"), "/usr/bin/rtcdn --config-dir /etc/rtcdn");
    assert_eq!(value("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(value("User"), "rtcdn");
    assert_eq!(value("Restart"), "on-failure");
    assert_eq!(value("StateDirectory"), "rtcdn");
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(value("WantedBy"), "multi-user.target");
    assert!(value("TimeoutStopSec").parse::<u32>().unwrap() >= 60);
    assert!(value("LimitNOFILE").parse::<u64>().unwrap() >= 65_536);

    let config = read(&root.join(CONFIG));
    assert!(
        setting(&config, "tls_self_signed_dir").starts_with("/var/lib/rtcdn/"),
        "the certificate must be generated in the unit's StateDirectory"
    );
    assert_eq!(
        setting(&config, "ip"),
        "127.0.0.1",
        "a fresh install serves loopback only"
    );

    // systemd's own check. It resolves ExecStart= on this machine, where the package is not
    // installed: that one complaint is expected, any other fails the test.
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output()
        .expect("run systemd-analyze (Debian package systemd)");
    let missing_binary = "rtcdn.service: Command /usr/bin/rtcdn is not executable";
    let installed = Path::new("/usr/bin/rtcdn").exists();
    let complaints: Vec<_> = String::from_utf8_lossy(&verify.stderr)
        .lines()
        .filter(|l| installed || !l.starts_with(missing_binary))
        .map(str::to_owned)
        .collect();
    assert!(
        complaints.is_empty(),
        "systemd-analyze verify: {complaints:#?}"
    );
    assert_eq!(verify.status.success(), installed, "{verify:?}");
}

/// Starts the packaged binary with a copy of the packaged configuration (ports ephemeral,
/// the certificate directory moved into the scratch directory) and asks `/health`.
fn serves_health_with_the_packaged_config(root: &Path, scratch: &mut Scratch) {
    let config = read(&root.join(CONFIG));
    let config_dir = scratch.dir.join("etc-rtcdn");
    let tls_dir = scratch.dir.join("state/tls");
    std::fs::create_dir_all(&config_dir).unwrap();
    let line = format!(
        "tls_self_signed_dir={}",
        setting(&config, "tls_self_signed_dir")
    );
    let copied = config.replace(&line, &format!("tls_self_signed_dir={}", tls_dir.display()));
    assert_ne!(copied, config);
    std::fs::write(config_dir.join("flashphoner.properties"), copied).unwrap();

    let mut node = Command::new(root.join("usr/bin/rtcdn"))
        .arg("--config-dir")
        .arg(&config_dir)
        .args([
            "--ws-port",
            "0",
            "--wss-port",
            "0",
            "--media-port-from",
            "0",
        ])
        .env("NO_COLOR", "1")
        .env_remove("RTCDN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the packaged rtcdn");
    let (stdout, stderr) = (node.stdout.take().unwrap(), node.stderr.take().unwrap());
    scratch.node = Some(node);
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let log = thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + common::START_TIMEOUT;
    let mut http: Option<SocketAddr> = None;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(addr) = line.strip_prefix("rtcdn listening on http://") {
            http = addr.parse().ok();
        }
        if line.starts_with("rtcdn listening on https://") {
            break;
        }
    }
    let health = http.map(|addr| common::http_get(addr, "/health"));
    scratch.stop_node();
    let log = log.join().unwrap_or_default().join("\n");
    let (status, body) =
        health.unwrap_or_else(|| panic!("the packaged rtcdn did not start:\n{log}"));
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("/health is JSON");
    assert_eq!(health["status"], "ok", "{body}");
    // Configuration warnings are `<file>:<line>: <key>: ...`.
    assert!(
        !log.contains("flashphoner.properties:"),
        "the packaged configuration warns:\n{log}"
    );
    assert!(
        tls_dir.join("self-signed.crt").is_file() && tls_dir.join("self-signed.key").is_file(),
        "the self-signed certificate goes to tls_self_signed_dir; log:\n{log}"
    );
}
