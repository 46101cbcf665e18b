// `lane = PATH`: every call of the body runs on the lane's threads, through either entry.
#[smartasync(lane = DB)]
fn insert(&self, name: &str, age: u32) -> Result<u64, Error> {
    self.conn().insert(name, age)
}

#[smartasync(lane = crate::lanes::PARSERS)]
fn parse(text: &str) -> usize {
    text.len()
}
