// Borrowed, owned, pattern, generic and `impl Trait` arguments of a `fn` body.
#[smartasync]
fn arguments(&self, name: &str, bytes: &[u8], mut count: usize, (a, b): (u8, u8)) -> String {
    count += 1;
    format!("{name}{}{count}{a}{b}", bytes.len())
}

#[smartasync]
fn generic<T: Display + Send + 'static>(&self, value: T, label: impl Into<String>) -> Result<String, Error>
where
    T: Clone,
{
    Ok(format!("{}{value}", label.into()))
}

#[smartasync]
fn unit(&self, tag: &'static str) {
    drop(tag);
}
