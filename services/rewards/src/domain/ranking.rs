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

/// A board's score histogram (users per score) held in memory: how many users are above a score,
/// or on it, by binary search instead of a sum over every distinct score in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Distinct scores, highest first.
    scores: Vec<i64>,
    /// `above[i]`: users on scores higher than `scores[i]`.
    above: Vec<i64>,
    users: Vec<i64>,
    total: i64,
}

impl Histogram {
    /// From `(score, users)` pairs in any order; scores without users are ignored.
    pub fn new(mut rows: Vec<(i64, i64)>) -> Self {
        rows.retain(|&(_, users)| users > 0);
        rows.sort_unstable_by_key(|&(score, _)| std::cmp::Reverse(score));
        let mut h = Histogram::default();
        for (score, users) in rows {
            if let (Some(&last), Some(on_last)) = (h.scores.last(), h.users.last_mut()) {
                if last == score {
                    *on_last += users;
                    h.total += users;
                    continue;
                }
            }
            h.scores.push(score);
            h.above.push(h.total);
            h.users.push(users);
            h.total += users;
        }
        h
    }

    /// Users strictly above `score`.
    pub fn users_above(&self, score: i64) -> i64 {
        // The first index whose score is not higher: everyone before it is above.
        match self.scores.partition_point(|&s| s > score) {
            i if i < self.scores.len() => self.above[i],
            _ => self.total,
        }
    }

    /// Users holding exactly `score`.
    pub fn users_with(&self, score: i64) -> i64 {
        self.scores.binary_search_by(|s| score.cmp(s)).map(|i| self.users[i]).unwrap_or(0)
    }

    pub fn distinct_scores(&self) -> usize {
        self.scores.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_counts_users_above_and_on_a_score() {
        let h = Histogram::new(vec![(10, 2), (50, 1), (30, 3), (0, 7), (20, 0)]);
        assert_eq!(h.distinct_scores(), 4);
        assert_eq!(h.users_above(60), 0);
        assert_eq!(h.users_above(50), 0);
        assert_eq!(h.users_above(49), 1);
        assert_eq!(h.users_above(30), 1);
        assert_eq!(h.users_above(25), 4);
        assert_eq!(h.users_above(10), 4);
        assert_eq!(h.users_above(0), 6);
        assert_eq!(h.users_above(-1), 13);
        assert_eq!(h.users_with(30), 3);
        assert_eq!(h.users_with(20), 0);
        assert_eq!(h.users_with(11), 0);
        assert_eq!(Histogram::new(Vec::new()).users_above(5), 0);
    }

    #[test]
    fn the_histogram_agrees_with_counting_the_board() {
        let board = [90, 70, 70, 50, 50, 50, 20, 5, 5, 1];
        let mut counts: HashMap<i64, i64> = HashMap::new();
        for s in board {
            *counts.entry(s).or_default() += 1;
        }
        let h = Histogram::new(counts.into_iter().collect());
        for probe in -1..=100 {
            let above = board.iter().filter(|&&s| s > probe).count() as i64;
            let on = board.iter().filter(|&&s| s == probe).count() as i64;
            assert_eq!((h.users_above(probe), h.users_with(probe)), (above, on), "score {probe}");
        }
    }
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
