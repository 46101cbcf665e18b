use smartasync::smartasync;

#[smartasync]
trait Raw: Send + Sync {
    fn raw(&self, pointer: *const u8) -> u8;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Raw for Plain {
    unsafe fn raw(&self, pointer: *const u8) -> u8 {
        unsafe { *pointer }
    }
}

fn main() {}
