//! The `rtcdn` binary: reads configuration, starts the data-plane workers and runs the control
//! plane on the main thread.

fn main() {
    println!("rtcdn: not wired yet");
}
