// As `shadowed_primitive_not_send`, in a trait impl: a type of the user's own named like a
// primitive is still required to cross, by the function that runs the body.
#![allow(non_camel_case_types)]

use std::rc::Rc;

use smartasync::smartasync;

pub struct u64(Rc<u8>);

#[smartasync]
trait Counter: Send + Sync {
    fn count(&self, items: u64) -> usize;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Counter for Plain {
    fn count(&self, items: u64) -> usize {
        usize::from(*items.0)
    }
}

fn main() {}
