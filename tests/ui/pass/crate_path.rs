//! A crate that re-exports smartasync points generated code at its own path.

mod deps {
    pub use ::smartasync;
}

use deps::smartasync::smartasync;

#[smartasync(crate = "crate::deps::smartasync")]
fn double(value: u32) -> u32 {
    value * 2
}

#[smartasync(crate = "crate::deps::smartasync")]
async fn triple(value: u32) -> u32 {
    value * 3
}

fn main() {
    assert_eq!(double(2), 4);
    assert_eq!(triple(2), 6);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(double_async(3)), 6);
    assert_eq!(runtime.block_on(triple_async(3)), 9);
}
