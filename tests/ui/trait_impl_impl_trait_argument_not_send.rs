use std::fmt::Debug;

use smartasync::smartasync;

#[smartasync]
trait Show: Send + Sync {
    fn show(&self, value: impl Debug) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Show for Plain {
    fn show(&self, value: impl Debug) -> String {
        format!("{value:?}")
    }
}

fn main() {}
