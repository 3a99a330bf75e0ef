//! Glob patterns as BIRD writes them: `*` matches any run of characters,
//! `?` any one character. Protocol names on the control socket, interface
//! names in route filters.

/// Whether `name` matches `pattern`. Greedy, backing up only to the last
/// `*` seen: at most `pattern.len() × name.len()` steps, never the
/// exponential blow-up of trying every split at every `*`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j) = (0, 0);
    // The last `*` and where in `name` its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(c) if *c == '?' || *c == s[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and retry.
                Some((si, sj)) => {
                    star = Some((si, sj + 1));
                    i = si + 1;
                    j = sj + 1;
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("Global_*", "Global_10_0_0_8"));
        assert!(!matches("Global_*", "Mesh_10_0_0_8"));
        assert!(matches("M?sh*", "Mesh_1"));
        assert!(matches("*", ""));
        assert!(matches("*_0_*_8", "Mesh_10_0_0_8"));
        assert!(!matches("*_9", "Mesh_10_0_0_8"));
        assert!(!matches("Mesh_1?", "Mesh_1"));
        assert!(matches("**a*", "ba"));
    }

    #[test]
    fn many_stars_stay_fast() {
        // Exponential in the stars for a backtracking matcher.
        let pattern = format!("{}b", "*a".repeat(30));
        let name = "a".repeat(64);
        let t = std::time::Instant::now();
        assert!(!matches(&pattern, &name));
        // Loose, for a loaded machine: backtracking would take ages.
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
