use smartasync::smartasync;

const WRITERS: usize = 0;

#[smartasync(limit = WRITERS)]
fn write(value: u32) -> u32 {
    value
}

fn main() {}
