use smartasync::smartasync;

#[smartasync]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
    let _ = answer_async();
}
