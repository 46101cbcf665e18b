// The trait's signature cannot promise `T: Send`, so the offloaded body cannot move `value`.
use std::fmt::Debug;

use smartasync::smartasync;

#[smartasync]
trait Show: Send + Sync {
    fn show<T: Debug>(&self, value: T) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Show for Plain {
    fn show<T: Debug>(&self, value: T) -> String {
        format!("{value:?}")
    }
}

fn main() {}
