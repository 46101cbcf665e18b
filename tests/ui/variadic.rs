use smartasync::smartasync;

#[smartasync]
fn printf(format: *const u8, ...) {}

fn main() {}
