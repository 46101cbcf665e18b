use smartasync::smartasync;

#[smartasync]
trait Raw: Send + Sync {
    unsafe fn raw(&self, pointer: *const u8) -> u8;
}

fn main() {}
