// One method's mistake is reported at that method; the others are still paired.
#[smartasync]
impl Store {
    fn bad(&mut self) -> usize {
        self.count
    }

    fn good(&self) -> usize {
        self.count
    }
}
