//! Exercise: this program does not compile. Make it compile without
//! cloning the vector. (Hint: what does `first` borrow, and for how long?)

fn main() {
    let mut scores = vec![10, 20, 30];
    let first = &scores[0];
    scores.push(40);
    println!("first score: {first}");
}
