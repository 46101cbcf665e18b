use std::fmt::Debug;

use smartasync::smartasync;

#[smartasync]
fn describe(value: &dyn Debug) -> String {
    format!("{value:?}")
}

fn main() {
    let _ = describe(&1);
    let _ = describe_async(&1);
}
