// A rejected `unsafe fn` keeps a safe stub twin: calling it adds no `unsafe` error.
use smartasync::smartasync;

#[smartasync]
unsafe fn raw(pointer: *const u8) -> u8 {
    unsafe { *pointer }
}

async fn caller() {
    let byte = 1u8;
    let _ = raw_async(&byte).await;
}

fn main() {
    let _ = caller();
}
