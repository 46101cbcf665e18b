use smartasync::smartasync;

#[smartasync(in_place)]
fn rows() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {}
