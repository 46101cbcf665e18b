use smartasync::smartasync;

#[derive(Clone)]
struct Counter {
    count: u32,
}

impl Counter {
    #[smartasync]
    fn increment(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

fn main() {
    let mut counter = Counter { count: 0 };
    counter.increment();
    let _ = counter.increment_async();
}
