use smartasync::smartasync;

#[smartasync(skip)]
fn write(value: u32) -> u32 {
    value
}

fn main() {}
