//! Redraws the charts of study folders from their CSVs:
//! `cargo run --example redraw -- results/llvmpipe/resnet18-cifar ...`.

fn main() -> anyhow::Result<()> {
    for dir in std::env::args().skip(1) {
        let files = splitbench::report::redraw(std::path::Path::new(&dir))?;
        println!("{dir}: {} chart files", files.len());
    }
    Ok(())
}
