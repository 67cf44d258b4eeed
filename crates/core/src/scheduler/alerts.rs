//! The alert channels through the scheduler: kept in the store, announced to every node.

use super::{invalid, lock, new_job_id, Scheduler, SchedulerError};
use crate::alert::{AlertRule, Channel, Delivery};

impl Scheduler {
    /// The alert channels, secrets included (the API shows [`Channel::masked`]).
    pub fn channels(&self) -> Result<Vec<Channel>, SchedulerError> {
        Ok(self.inner.store.load_channels()?)
    }

    /// Adds a channel (an empty id is generated); refused with the field named.
    pub fn add_channel(&self, mut channel: Channel) -> Result<Channel, SchedulerError> {
        if channel.id.is_empty() {
            channel.id = new_job_id();
        }
        check(&channel)?;
        let _editing = lock(&self.inner.channel_edits);
        let mut channels = self.channels()?;
        if channels.iter().any(|c| c.id == channel.id) {
            return Err(invalid(
                "id",
                format!("a channel with id '{}' already exists", channel.id),
            ));
        }
        channels.push(channel.clone());
        self.save_channels(&channels)?;
        Ok(channel)
    }

    /// Replaces the channel with `channel.id`; secrets sent back masked keep their values.
    pub fn update_channel(&self, channel: Channel) -> Result<Channel, SchedulerError> {
        let _editing = lock(&self.inner.channel_edits);
        let mut channels = self.channels()?;
        let Some(stored) = channels.iter_mut().find(|c| c.id == channel.id) else {
            return Err(SchedulerError::NoChannel(channel.id));
        };
        let channel = channel.unmasked(stored);
        check(&channel)?;
        *stored = channel.clone();
        self.save_channels(&channels)?;
        Ok(channel)
    }

    /// Removes a channel; rules naming it then send nothing.
    pub fn remove_channel(&self, id: &str) -> Result<(), SchedulerError> {
        let _editing = lock(&self.inner.channel_edits);
        let mut channels = self.channels()?;
        let before = channels.len();
        channels.retain(|c| c.id != id);
        if channels.len() == before {
            return Err(SchedulerError::NoChannel(id.to_string()));
        }
        self.save_channels(&channels)
    }

    /// Sends a test message on channel `id` now; the attempt is recorded and returned.
    #[cfg(feature = "alerts")]
    pub async fn test_channel(&self, id: &str) -> Result<Delivery, SchedulerError> {
        let channel = self
            .channels()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| SchedulerError::NoChannel(id.to_string()))?;
        Ok(self.inner.alerter.test(&self.inner, &channel).await)
    }

    /// Where links in alerts point: the web admin's address (e.g. `http://127.0.0.1:7878`).
    #[cfg(feature = "alerts")]
    pub fn set_alert_link_base(&self, base: Option<String>) {
        self.inner.alerter.set_link_base(base);
    }

    /// Delivery attempts, newest first: channel `channel`'s if given, at most `limit`.
    pub fn deliveries(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, SchedulerError> {
        Ok(self.inner.store.deliveries(channel, limit)?)
    }

    fn save_channels(&self, channels: &[Channel]) -> Result<(), SchedulerError> {
        self.inner.store.save_channels(channels)?;
        self.inner.reload_channels();
        Ok(())
    }
}

impl Scheduler {
    /// Refuses alert rules (at `at`, e.g. `options`) newly naming a channel that does not
    /// exist; rules kept from `before` may name a channel removed since (they send nothing),
    /// so removing a channel never blocks an unrelated edit.
    pub(super) fn check_alert_channels(
        &self,
        rules: &[AlertRule],
        before: &[AlertRule],
        at: &str,
    ) -> Result<(), SchedulerError> {
        let new = |r: &AlertRule| !before.iter().any(|b| b.channel == r.channel);
        if !rules.iter().any(new) {
            return Ok(());
        }
        let channels = self.channels()?;
        match rules
            .iter()
            .position(|r| new(r) && !channels.iter().any(|c| c.id == r.channel))
        {
            Some(i) => Err(invalid(
                &format!("{at}.alerts[{i}].channel"),
                format!(
                    "no channel with id '{}' (add it under Settings → Alert channels)",
                    rules[i].channel
                ),
            )),
            None => Ok(()),
        }
    }
}

fn check(channel: &Channel) -> Result<(), SchedulerError> {
    channel.validate().map_err(|e| invalid(&e.field, e.message))
}

impl super::SchedulerInner {
    /// Reads the alert channels from the store again (after a change here or elsewhere).
    pub(super) fn reload_channels(&self) {
        #[cfg(feature = "alerts")]
        self.alerter.reload(self.store.as_ref(), &self.bus);
    }
}
