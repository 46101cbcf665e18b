use std::borrow::Cow;

use smartasync::smartasync;

#[smartasync]
fn shout<'a>(text: Cow<'a, str>) -> String {
    text.to_uppercase()
}

fn main() {
    let _ = shout(Cow::Borrowed("a"));
    let _ = shout_async(Cow::Borrowed("a"));
}
