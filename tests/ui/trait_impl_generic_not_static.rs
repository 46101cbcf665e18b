// `T: Send` but not `'static`: the offloaded body cannot move `value` to the pool.
use std::fmt::Debug;

use smartasync::smartasync;

#[smartasync]
trait Show: Send + Sync {
    fn show<T: Debug + Send>(&self, value: T) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Show for Plain {
    fn show<T: Debug + Send>(&self, value: T) -> String {
        format!("{value:?}")
    }
}

fn main() {}
