use std::borrow::Cow;

use smartasync::smartasync;

#[smartasync]
trait Shout: Send + Sync {
    fn shout<'a>(&self, text: Cow<'a, str>) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Shout for Plain {
    fn shout<'a>(&self, text: Cow<'a, str>) -> String {
        text.to_uppercase()
    }
}

fn main() {}
