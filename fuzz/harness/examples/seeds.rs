//! Writes the synthetic seed inputs of every fuzz target into `<out>/<target>/`
//! (see fuzz/README.md, "Seeds"). Usage: cargo run -p fuzz-harness --example seeds -- OUT_DIR

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let seeds = fuzz_harness::seeds::synthetic();
    for (target, name, data) in &seeds {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), data)?;
    }
    println!("{} seeds written to {}", seeds.len(), out.display());
    Ok(())
}
