use smartasync::smartasync;

#[smartasync(limit = 0)]
fn write(value: u32) -> u32 {
    value
}

fn main() {}
