//! `include_dir!` does not tell cargo about the files it embeds: without this, editing a page
//! would not rebuild the binary that serves it.
fn main() {
    println!("cargo:rerun-if-changed=assets");
}
