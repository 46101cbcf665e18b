use smartasync::smartasync;

#[smartasync]
fn join(parts: Vec<&str>) -> String {
    parts.concat()
}

fn main() {
    let _ = join(vec!["a"]);
    let _ = join_async(vec!["a"]);
}
