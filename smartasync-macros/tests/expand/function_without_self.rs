// A lone function without `self`: the generated entry holds a copy of the body.
#[smartasync]
pub fn checksum(data: &[u8], (seed, _): (u32, u32)) -> Result<u32, ParseError> {
    let sum: u32 = data.iter().map(|byte| u32::from(*byte)).sum();
    Ok(sum ^ seed)
}
