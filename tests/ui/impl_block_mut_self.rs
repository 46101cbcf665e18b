use smartasync::smartasync;

#[derive(Clone)]
struct Counter {
    count: usize,
}

// One method's mistake is reported at that method; the other is still paired, so its
// caller below compiles.
#[smartasync]
impl Counter {
    fn bump(&mut self) -> usize {
        self.count += 1;
        self.count
    }

    fn get(&self) -> usize {
        self.count
    }
}

async fn caller(counter: Counter) -> usize {
    counter.get_async().await
}

fn main() {
    let _ = caller(Counter { count: 0 });
}
