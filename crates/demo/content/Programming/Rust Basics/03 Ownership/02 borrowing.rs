//! Borrowing: lending a value without giving it away.

fn total_length(words: &[String]) -> usize {
    words.iter().map(|word| word.len()).sum()
}

fn shout(word: &mut String) {
    word.make_ascii_uppercase();
    word.push('!');
}

fn main() {
    let mut words = vec![String::from("own"), String::from("borrow")];

    // A shared borrow: we can read, and still use `words` afterwards.
    println!("{} letters", total_length(&words));

    // A mutable borrow: only one at a time.
    shout(&mut words[1]);
    println!("{words:?}");
}
