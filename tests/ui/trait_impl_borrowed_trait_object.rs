use std::fmt::Debug;

use smartasync::smartasync;

#[smartasync]
trait Describe: Send + Sync {
    fn describe(&self, value: &dyn Debug) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Describe for Plain {
    fn describe(&self, value: &dyn Debug) -> String {
        format!("{value:?}")
    }
}

fn main() {}
