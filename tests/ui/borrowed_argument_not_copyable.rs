use smartasync::smartasync;

struct Handle {
    id: u32,
}

#[smartasync]
fn describe(handle: &Handle) -> u32 {
    handle.id
}

fn main() {}
