use smartasync::smartasync;

#[smartasync]
trait Callback: Send + Sync {
    extern "C" fn callback(&self, code: i32) -> i32;
}

fn main() {}
