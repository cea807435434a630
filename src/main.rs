//! The `rtcdn` binary: reads configuration, starts the data-plane workers and runs the control
//! plane on the main thread.

#[allow(dead_code)]
mod cli;

fn main() {
    println!("rtcdn: not wired yet");
}
