use std::fmt::Debug;
use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
fn show<T: Debug>(value: T) -> String {
    format!("{value:?}")
}

async fn caller() {
    let _ = show_async(Rc::new(1)).await;
}

fn main() {
    let _ = caller();
}
