"""Pure rules of referral: codes and attribution, reward ladders, fraud signals, leaderboards, follows."""
