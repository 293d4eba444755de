"""The partnership's dashboard (`svduty serve`): published figures behind sign-in and roles."""
