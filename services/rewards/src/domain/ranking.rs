//! Standard competition ranking ("1224"): equal scores share a rank, and the next score's rank
//! counts everyone above it. Within a tie, the board orders by who reached the score first.

/// Ranks for every entry of a complete board, sorted by score descending.
pub fn competition_ranks(scores: &[i64]) -> Vec<i64> {
    let mut ranks = Vec::with_capacity(scores.len());
    for (i, score) in scores.iter().enumerate() {
        let rank = match i {
            0 => 1,
            _ if scores[i - 1] == *score => ranks[i - 1],
            _ => i as i64 + 1,
        };
        ranks.push(rank);
    }
    ranks
}

/// Ranks for one page of a large board: `first_rank` is the first entry's rank (1 + users on
/// higher scores), and `users_with(score)` tells how many users on the whole board hold a score,
/// so a page that starts in the middle of a tie still ranks the next score correctly.
pub fn page_ranks(first_rank: i64, scores: &[i64], users_with: impl Fn(i64) -> i64) -> Vec<i64> {
    let mut ranks = Vec::with_capacity(scores.len());
    for (i, score) in scores.iter().enumerate() {
        let rank = match i {
            0 => first_rank,
            _ if scores[i - 1] == *score => ranks[i - 1],
            _ => ranks[i - 1] + users_with(scores[i - 1]),
        };
        ranks.push(rank);
    }
    ranks
}

/// A rank from the number of users strictly above.
pub fn rank_from_above(users_above: i64) -> i64 {
    1 + users_above
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ties_share_a_rank_and_the_next_skips() {
        assert_eq!(competition_ranks(&[30, 20, 20, 10]), vec![1, 2, 2, 4]);
        assert_eq!(competition_ranks(&[5, 5, 5]), vec![1, 1, 1]);
        assert_eq!(competition_ranks(&[9, 8, 8, 8, 1, 1, 0]), vec![1, 2, 2, 2, 5, 5, 7]);
        assert!(competition_ranks(&[]).is_empty());
    }

    #[test]
    fn a_page_agrees_with_the_whole_board() {
        let board = [50, 40, 40, 40, 30, 30, 20, 10, 10, 5];
        let all = competition_ranks(&board);
        let mut counts: HashMap<i64, i64> = HashMap::new();
        for s in board {
            *counts.entry(s).or_default() += 1;
        }
        for start in 0..board.len() {
            for len in 1..=(board.len() - start) {
                let page = &board[start..start + len];
                let above = board.iter().filter(|s| **s > page[0]).count() as i64;
                let ranks = page_ranks(rank_from_above(above), page, |s| counts[&s]);
                assert_eq!(ranks, all[start..start + len].to_vec(), "page {start}+{len}");
            }
        }
    }
}
