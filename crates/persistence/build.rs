// embed_migrations! does not notice new or changed migration files by itself.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
