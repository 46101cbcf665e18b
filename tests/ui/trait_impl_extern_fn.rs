use smartasync::smartasync;

#[smartasync]
trait Callback: Send + Sync {
    fn callback(&self, code: i32) -> i32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Callback for Plain {
    extern "C" fn callback(&self, code: i32) -> i32 {
        code
    }
}

fn main() {}
