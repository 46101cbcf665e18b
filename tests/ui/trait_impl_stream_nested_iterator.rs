use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    fn maybe_rows(&self, present: bool) -> Option<impl Iterator<Item = u8>>;
}

#[derive(Clone)]
struct Table;

#[smartasync]
impl Rows for Table {
    fn maybe_rows(&self, present: bool) -> Option<impl Iterator<Item = u8>> {
        present.then_some(0..3)
    }
}

fn main() {}
