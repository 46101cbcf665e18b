use smartasync::smartasync;

#[smartasync]
extern "C" fn callback(code: i32) -> i32 {
    code
}

fn main() {
    let _ = callback(1);
}
