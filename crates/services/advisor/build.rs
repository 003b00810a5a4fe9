//! `include_dir!` does not tell cargo about the files it embeds: without this, an edited prompt
//! would not reach the built-in copy until something else changed.
fn main() {
    println!("cargo:rerun-if-changed=../../../prompts");
}
