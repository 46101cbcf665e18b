// `skip` on a method of a trait impl: the trait declares both entries, so the impl
// cannot leave one out.
use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Load for Plain {
    #[smartasync(skip)]
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
