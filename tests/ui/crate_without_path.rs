use smartasync::smartasync;

#[smartasync(crate)]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    let _ = load(1);
    let _ = load_async(1);
}
