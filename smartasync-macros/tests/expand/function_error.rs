// An error: the item as written, a stub twin with its signature, and the error.
#[smartasync]
fn push(&mut self, item: &mut Vec<u8>) -> usize {
    item.len()
}
