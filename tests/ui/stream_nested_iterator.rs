use smartasync::smartasync;

#[smartasync]
fn maybe_rows(present: bool) -> Option<impl Iterator<Item = u8>> {
    present.then_some(0..3)
}

fn main() {}
