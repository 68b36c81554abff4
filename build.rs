// The embedded migrations (`sqlx::migrate!`) track the files they include, but not the folder:
// without this, a newly added migration would be left out until some source file changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
