// Arguments and results of primitive types cross with no bound of ours: a type of the
// user's own that takes such a name is still required to cross, by the function that runs
// the body.
#![allow(non_camel_case_types)]

use std::rc::Rc;

use smartasync::smartasync;

struct u64(Rc<u8>);

#[smartasync]
fn count(items: u64) -> usize {
    usize::from(*items.0)
}

struct String(Rc<u8>);

#[smartasync]
fn name() -> String {
    String(Rc::new(1))
}

fn main() {}
