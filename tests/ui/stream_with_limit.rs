use smartasync::smartasync;

#[smartasync(limit = 1)]
fn rows() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {}
